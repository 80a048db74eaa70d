/**
 * A CodeArtifact SDK client that answers in the test itself: `send` is called with each
 * command. It has the middleware stack a CodeArtifact adds its read-only guard to (guardReadOnly):
 * nothing is sent anywhere, so nothing is guarded.
 */
import type { CodeartifactClient } from '@aws-sdk/client-codeartifact';

export function fakeClient(send: (command: unknown) => Promise<unknown>): CodeartifactClient {
  return { send, destroy: () => {}, middlewareStack: { add: () => {} } } as unknown as CodeartifactClient;
}
