/**
 * `amphora … | head -1`: the reader closes the pipe after the first line, and the next write gets
 * EPIPE. That is the reader's choice, not a failure of the command, so the process ends quietly
 * (as programs stopped by SIGPIPE do, which Node ignores) instead of with an unhandled-error trace.
 */
export function exitQuietlyWhenReaderLeaves(stream: NodeJS.WriteStream): void {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    process.exit(process.exitCode ?? 0);
  });
}
