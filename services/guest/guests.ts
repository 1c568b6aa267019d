import { type GuestProfile, guestTags } from '../shared/registry/guest-registry.ts';
import { seededRandom } from '../shared/util/random.ts';
import { generatedName, slug } from './names.ts';
import type { Persona } from './personas.ts';

export interface SimulatedGuest extends GuestProfile {
  behaviour: Persona;
  /** This guest's dietary need, drawn once from its persona's weights: the same at every event. */
  dietary: string;
}

/**
 * The guests one agent hosts. Guest i follows persona i mod n; it carries the persona's name while
 * the agent hosts no more guests than there are named personas, otherwise a name derived from
 * (seed, agent, i). Ids embed the agent id, so they are unique across agents. Its tags are the
 * agent's persona group, its persona's label and the persona's own tags.
 */
export function buildGuests(agentId: string, count: number, personas: Persona[], seed: string, group = 'custom'): SimulatedGuest[] {
  const guests: SimulatedGuest[] = [];
  const tagsOf = new Map(personas.map((p) => [p, guestTags(group, p.label, p.tags)]));
  for (let i = 0; i < count; i += 1) {
    const behaviour = personas[i % personas.length]!;
    const name = behaviour.name && count <= personas.length ? behaviour.name : generatedName(seed, agentId, i);
    const id = `${slug(name)}.${i}@${agentId}`;
    guests.push({ id, name, persona: behaviour.label, tags: tagsOf.get(behaviour)!, behaviour, dietary: dietaryNeed(behaviour, seed, id) });
  }
  return guests;
}

function dietaryNeed(persona: Persona, seed: string, guestId: string): string {
  const weights = Object.entries(persona.dietary);
  if (weights.length === 1) return weights[0]![0];
  const total = weights.reduce((sum, [, w]) => sum + w, 0);
  let x = seededRandom('dietary', seed, guestId)() * total;
  for (const [need, w] of weights) {
    if (x < w) return need;
    x -= w;
  }
  return weights[0]![0];
}
