import type { GuestProfile } from '../shared/registry/guest-registry.ts';
import { generatedName, slug } from './names.ts';
import type { Persona } from './personas.ts';

export interface SimulatedGuest extends GuestProfile {
  behaviour: Persona;
}

/**
 * The guests one agent hosts. Guest i follows persona i mod n; it carries the persona's name while
 * the agent hosts no more guests than there are named personas, otherwise a name derived from
 * (seed, agent, i). Ids embed the agent id, so they are unique across agents.
 */
export function buildGuests(agentId: string, count: number, personas: Persona[], seed: string): SimulatedGuest[] {
  const guests: SimulatedGuest[] = [];
  for (let i = 0; i < count; i += 1) {
    const behaviour = personas[i % personas.length]!;
    const name = behaviour.name && count <= personas.length ? behaviour.name : generatedName(seed, agentId, i);
    guests.push({ id: `${slug(name)}.${i}@${agentId}`, name, persona: behaviour.label, behaviour });
  }
  return guests;
}
