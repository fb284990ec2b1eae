/** Names of the notifications ConfigMap, apart so that the CLI can print them without loading the Kubernetes client. */

/** The ConfigMap's default name. */
export const NOTIFICATIONS_CONFIGMAP = 'graylane-notifications';
/** The key of the ConfigMap's data that holds the configuration. */
export const NOTIFICATIONS_KEY = 'notifications.yaml';
