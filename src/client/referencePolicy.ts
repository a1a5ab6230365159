/**
 * Which references a download may fetch. Manifests come from the server, which may be hostile
 * (a team server you do not run), so a reference URI in one is not the user's choice:
 *
 * - http(s) to a loopback, link-local (cloud metadata at 169.254.169.254) or unspecified address
 *   is refused, checked on the address actually connected to (so a name resolving there is caught
 *   too), unless the user lists the host in AMPHORA_REFERENCE_HOSTS. Redirects are not followed.
 * - file:// must name a regular file (no devices, FIFOs or folders). One logged with
 *   checksum=False is copied without any verification, so it is fetched only from under a folder
 *   the user lists in AMPHORA_FILE_REFERENCE_ROOTS. A checksummed one may be read anywhere: its
 *   bytes must hash to the recorded digest, so the server can only have it copy content it knows.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { realpath, stat } from 'node:fs/promises';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { delimiter, resolve, sep } from 'node:path';
import { Agent } from './undici.js';
import { AmphoraError } from '../core/errors.js';

const forbidden = new BlockList();
forbidden.addSubnet('127.0.0.0', 8, 'ipv4'); // loopback
forbidden.addSubnet('169.254.0.0', 16, 'ipv4'); // link-local, cloud metadata services
forbidden.addSubnet('0.0.0.0', 8, 'ipv4'); // "this host"
forbidden.addAddress('::1', 'ipv6');
forbidden.addAddress('::', 'ipv6');
forbidden.addSubnet('fe80::', 10, 'ipv6');
forbidden.addSubnet('::ffff:127.0.0.0', 104, 'ipv6'); // IPv4-mapped loopback
forbidden.addSubnet('::ffff:169.254.0.0', 112, 'ipv6');

/** True for loopback, link-local and unspecified addresses (IPv4, IPv6 and IPv4-mapped). */
export function isInternalAddress(ip: string): boolean {
  const family = isIP(ip);
  if (!family) return false;
  return forbidden.check(ip, family === 4 ? 'ipv4' : 'ipv6');
}

/** Hosts (names or addresses, lower case, without port) the user allows references to reach anyway. */
export function allowedReferenceHosts(env: NodeJS.ProcessEnv = process.env): Set<string> {
  return new Set(
    (env.AMPHORA_REFERENCE_HOSTS ?? '')
      .split(',')
      .map((h) => h.trim().toLowerCase().replace(/^\[|\]$/g, ''))
      .filter(Boolean),
  );
}

function refusedHost(path: string, uri: string, host: string, ip: string): AmphoraError {
  return new AmphoraError(
    'invalid_reference',
    `Reference "${path}" points at ${uri}, which is ${ip === host ? '' : `${host} = `}${ip}, a loopback or link-local address; a server could use such a reference to make this client read internal services, so it was not fetched. If you logged it yourself, allow the host with AMPHORA_REFERENCE_HOSTS=${host}.`,
  );
}

/**
 * An undici dispatcher for one http(s) reference download that refuses internal addresses, on the
 * address it really connects to. Throws at once for an internal address literal.
 */
export function referenceDispatcher(path: string, uri: string, env: NodeJS.ProcessEnv = process.env): Agent | undefined {
  const url = new URL(uri);
  const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, '');
  if (allowedReferenceHosts(env).has(host)) return undefined;
  if (isIP(host)) {
    if (isInternalAddress(host)) throw refusedHost(path, uri, host, host);
    return undefined;
  }
  const lookup: LookupFunction = (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const list = addresses as LookupAddress[];
      const bad = list.find((a) => isInternalAddress(a.address));
      if (bad) return callback(refusedHost(path, uri, host, bad.address) as unknown as NodeJS.ErrnoException, '', 0);
      if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list);
      callback(null, list[0].address, list[0].family);
    });
  };
  return new Agent({ connect: { lookup } });
}

/** Folders (real paths) under which checksum=False file references may be read. */
function fileReferenceRoots(env: NodeJS.ProcessEnv): string[] {
  return (env.AMPHORA_FILE_REFERENCE_ROOTS ?? '')
    .split(delimiter)
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => resolve(p));
}

/** Checks a file:// reference before it is read (see the module comment); returns the real path to read. */
export async function checkFileReference(path: string, local: string, checksum: boolean, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  let real: string;
  try {
    real = await realpath(local);
  } catch (e) {
    throw new AmphoraError('not_found', `Reference "${path}" points at ${local}, which cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); it may have moved or been deleted.`);
  }
  const st = await stat(real);
  if (!st.isFile()) {
    throw new AmphoraError('invalid_reference', `Reference "${path}" points at ${local}, which is not a regular file (a device, FIFO, socket or folder); it was not read.`);
  }
  if (!checksum) {
    const roots = await Promise.all(fileReferenceRoots(env).map((r) => realpath(r).catch(() => r)));
    if (!roots.some((r) => real === r || real.startsWith(r.endsWith(sep) ? r : r + sep))) {
      throw new AmphoraError(
        'invalid_reference',
        `Reference "${path}" points at ${local}, a local file recorded without a checksum, so whatever is there would be copied unverified; it was not read. If you logged it, allow its folder with AMPHORA_FILE_REFERENCE_ROOTS=${resolve(local, '..')} (several: separated by "${delimiter}").`,
      );
    }
  }
  return real;
}
