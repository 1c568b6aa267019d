import { randomBytes } from 'node:crypto';
import { type AclRole, type AclSetup, type AclUser, aclUser, aclUserKeys, guestAclUser, guestScopes, renderAclFile } from '../../services/shared/security/acl.ts';

/**
 * The ACL users of a test's redis-server (services/shared/security/acl.ts) with a password each:
 * the aclfile to start it with, and each role's user and password. A guest user is a persona
 * group's (the first group unless named).
 */
export class TestAclUsers {
  readonly setup: AclSetup;
  /** By password key (AclUser.key): host, coordinator, metrics, admin, guest-<group>. */
  readonly passwords: Record<string, string>;

  constructor(setup: AclSetup, password: (key: string) => string = () => randomBytes(18).toString('base64url')) {
    this.setup = setup;
    this.passwords = Object.fromEntries(aclUserKeys(setup).map((key) => [key, password(key)]));
  }

  user(role: AclRole, group = this.setup.guestGroups[0]!): AclUser {
    if (role !== 'guest') return aclUser(role);
    const scope = guestScopes(this.setup).find((s) => s.group === group);
    if (!scope) throw new Error(`no persona group ${group} in this test's ACL setup`);
    return guestAclUser(scope.group, scope.agentIdPrefix);
  }

  password(role: AclRole, group?: string): string {
    return this.passwords[this.user(role, group).key]!;
  }

  /** REDIS_USERNAME and REDIS_PASSWORD of a role's process. */
  env(role: AclRole, group?: string): { REDIS_USERNAME: string; REDIS_PASSWORD: string } {
    return { REDIS_USERNAME: this.user(role, group).username, REDIS_PASSWORD: this.password(role, group) };
  }

  aclFile(): string {
    return renderAclFile(this.passwords, this.setup);
  }
}
