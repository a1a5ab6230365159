/**
 * The AWS SDK prints a NodeVersionSupportWarning in every process on Node < 22 (future SDK
 * releases will need Node 22). Amphora runs on Node 20 on purpose (VS Code ships it) and pins its
 * SDK, so users could do nothing about it: it is turned off with the SDK's own switch, which
 * leaves every other warning alone. Setting the variable to anything else keeps the warning.
 */
export function silenceAwsNodeVersionWarning(): void {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
}
