import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import type { KubeObject } from './chart-render.ts';

/**
 * Validates objects against the Kubernetes OpenAPI schemas of one Kubernetes version, in their
 * strict form (unknown fields are errors, as `kubectl apply` with server-side field validation
 * reports them). The schemas come from the PyPI package kubernetes-validate, which scripts/setup.sh
 * installs under .tools/k8s-json-schema/<version>-local-strict/.
 */
export class KubeSchemas {
  readonly version: string;
  private readonly dir: string;
  private readonly ajv: Ajv2020;
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(schemaRoot: string, version: string) {
    this.version = version;
    this.dir = join(schemaRoot, `v${version}-local-strict`);
    if (!existsSync(join(this.dir, '_definitions.json'))) throw new Error(`no schemas for Kubernetes ${version} in ${this.dir}`);
    // strict: false lets Ajv skip the x-kubernetes-* keywords; formats (int32, byte...) are
    // annotations here, the types are what the API server enforces first.
    this.ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
    this.ajv.addSchema(JSON.parse(readFileSync(join(this.dir, '_definitions.json'), 'utf8')) as object, '/api/_definitions.json');
  }

  /** Problems with one object; empty when it is valid. A kind without a schema is a problem too. */
  validate(object: KubeObject): string[] {
    const file = schemaFile(object);
    let validate = this.compiled.get(file);
    if (!validate) {
      const path = join(this.dir, file);
      if (!existsSync(path)) return [`no schema ${file} for ${object.apiVersion} ${object.kind} in Kubernetes ${this.version}`];
      validate = this.ajv.compile(JSON.parse(readFileSync(path, 'utf8')) as object);
      this.compiled.set(file, validate);
    }
    if (validate(object)) return [];
    return (validate.errors ?? []).map((e) => {
      const extra = e.keyword === 'additionalProperties' ? ` (${String((e.params as { additionalProperty: string }).additionalProperty)})` : '';
      return `${e.instancePath || '/'} ${e.message ?? e.keyword}${extra}`;
    });
  }
}

/** deployment-apps-v1.json, service-v1.json, role-rbac-v1.json: the layout of kubernetes-json-schema. */
function schemaFile(object: KubeObject): string {
  const [group, version] = object.apiVersion.includes('/') ? object.apiVersion.split('/') : ['', object.apiVersion];
  const groupPart = group ? `-${group!.split('.')[0]}` : '';
  return `${object.kind.toLowerCase()}${groupPart}-${version}.json`;
}
