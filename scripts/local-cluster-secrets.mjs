// Passwords for scripts/local-cluster, as docker-compose.yml has them (issue 18): a random
// password per role in <run dir>/secrets (owner-only files, never in an argument or the
// environment), the Redis users of deploy/redis/users.acl rendered from them by
// deploy/redis/render-acl.sh, and the Sentinel config lines that require and use them.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROLES = ['admin', 'node', 'prober', 'replica', 'sentinel'];

export function makeSecrets(repo, runDir) {
  const dir = join(runDir, 'secrets');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = (name) => join(dir, name);
  for (const r of ROLES) writeFileSync(file(`redis_${r}_password`), `${randomBytes(24).toString('hex')}\n`, { mode: 0o600 });
  writeFileSync(file('sentinel_password'), `${randomBytes(24).toString('hex')}\n`, { mode: 0o600 });
  const aclFile = join(runDir, 'users.acl');
  execFileSync('sh', [join(repo, 'deploy/redis/render-acl.sh'), join(repo, 'deploy/redis/users.acl'), dir, aclFile], { stdio: ['ignore', 'ignore', 'inherit'] });
  const password = (name) => readFileSync(file(name), 'utf8').replace(/\r?\n$/, '');
  // Replication logs in as fulcrum-replica; a file keeps the password out of argv (ps).
  const replicationConf = join(runDir, 'replication.conf');
  writeFileSync(replicationConf, `masteruser fulcrum-replica\nmasterauth ${password('redis_replica_password')}\n`, { mode: 0o600 });
  return {
    dir,
    file,
    password,
    /** redis-server arguments after its config file: the users, and the replication login. */
    redisArgs: () => [replicationConf, '--aclfile', aclFile],
    /** Lines for a Sentinel's config: its own password, and the login to Redis for `name`. */
    sentinelLines: (name) => [
      `sentinel auth-user ${name} fulcrum-sentinel`,
      `sentinel auth-pass ${name} ${password('redis_sentinel_password')}`,
      `requirepass ${password('sentinel_password')}`,
      `sentinel sentinel-pass ${password('sentinel_password')}`,
    ],
    /** `fulcrum start` / `fulcrum prober` credential flags for a role (node | prober). */
    fulcrumArgs: (role) => ['--redis-user', `fulcrum-${role}`, '--redis-password-file', file(`redis_${role}_password`),
      '--sentinel-password-file', file('sentinel_password')],
  };
}
