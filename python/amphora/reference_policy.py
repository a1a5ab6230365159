"""Which references a download may fetch (mirrors src/client/referencePolicy.ts).

Manifests come from the server, which may be hostile, so a reference URI in one is not the user's
choice:

- http(s) to a loopback, link-local (cloud metadata at 169.254.169.254) or unspecified address is
  refused unless the user lists the host in AMPHORA_REFERENCE_HOSTS. Names are resolved first and
  every address checked (urllib connects by name again: a DNS answer that changes in between is
  not caught here, unlike the TypeScript client, which checks the address it connects to).
- file:// must name a regular file. One logged with checksum=False is copied unverified, so it is
  read only from under a folder listed in AMPHORA_FILE_REFERENCE_ROOTS (os.pathsep-separated).
"""
import ipaddress
import os
import socket
import stat

from .errors import AmphoraError

_INTERNAL = [ipaddress.ip_network(n) for n in ("127.0.0.0/8", "169.254.0.0/16", "0.0.0.0/8", "::1/128", "::/128", "fe80::/10")]


def is_internal_address(ip):
    """True for loopback, link-local and unspecified addresses (IPv4, IPv6 and IPv4-mapped)."""
    try:
        addr = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return any(addr.version == n.version and addr in n for n in _INTERNAL)


def allowed_reference_hosts(env=None):
    env = os.environ if env is None else env
    return {h.strip().lower().strip("[]") for h in env.get("AMPHORA_REFERENCE_HOSTS", "").split(",") if h.strip()}


def _refused(path, uri, host, ip):
    return AmphoraError(
        "invalid_reference",
        f'Reference "{path}" points at {uri}, which is {"" if ip == host else host + " = "}{ip}, a loopback or link-local address; a server could use such a reference '
        "to make this client read internal services, so it was not fetched. If you logged it yourself, allow the host with "
        f"AMPHORA_REFERENCE_HOSTS={host}.")


def check_http_reference(path, uri, split, env=None):
    host = (split.hostname or "").lower()
    if host in allowed_reference_hosts(env):
        return
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
        literal = True
    except ValueError:
        literal = False
    if literal:
        if is_internal_address(host):
            raise _refused(path, uri, host, host)
        return
    try:
        infos = socket.getaddrinfo(host, split.port or (443 if split.scheme == "https" else 80), proto=socket.IPPROTO_TCP)
    except OSError:
        return  # the fetch itself reports the unreachable host
    for info in infos:
        if is_internal_address(info[4][0]):
            raise _refused(path, uri, host, info[4][0])


def check_file_reference(path, local, checksum, env=None):
    """Returns the real path to read, or raises (see the module docstring)."""
    env = os.environ if env is None else env
    real = os.path.realpath(local)
    try:
        st = os.stat(real)
    except OSError as e:
        raise AmphoraError("not_found", f'Reference "{path}" points at {local}, which cannot be read ({e.strerror or e}); it may have moved or been deleted.') from None
    if not stat.S_ISREG(st.st_mode):
        raise AmphoraError("invalid_reference", f'Reference "{path}" points at {local}, which is not a regular file (a device, FIFO, socket or '
                           "folder); it was not read.")
    if not checksum:
        roots = [os.path.realpath(os.path.abspath(r.strip())) for r in env.get("AMPHORA_FILE_REFERENCE_ROOTS", "").split(os.pathsep) if r.strip()]
        if not any(real == r or real.startswith(r.rstrip(os.sep) + os.sep) for r in roots):
            raise AmphoraError(
                "invalid_reference",
                f'Reference "{path}" points at {local}, a local file recorded without a checksum, so whatever is there would be copied '
                f"unverified; it was not read. If you logged it, allow its folder with AMPHORA_FILE_REFERENCE_ROOTS={os.path.dirname(os.path.abspath(local))} "
                f'(several: separated by "{os.pathsep}").')
    return real
