// Importing an action file registers its actions (defineAction).
import './vpcs.js';
import './instances.js';
import './server-groups.js';
import './servers.js';
import './health-check-templates.js';
import './functions.js';
import './load-balancers.js';
import './listeners.js';
import './rules.js';
import './certificates.js';
import './acls.js';
import './security-policies.js';
import './ca-certificates.js';
import './cookie-keys.js';

export { getAction, actionNames, runAction } from './framework.js';
import './listener-health.js';
