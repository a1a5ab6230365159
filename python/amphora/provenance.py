"""Code provenance, recorded at `init`: the program, the git work tree it lives in (commit,
branch, remote without credentials, dirty flag) and, for a dirty tree, `git diff HEAD` bounded
to 1 MiB (saved as a run file). No git, or no git installed: `git: None`, never a failure.
Call sites: the user's line that called `log_artifact` / `use_artifact`."""
import os
import re
import subprocess
import sys

DIFF_LIMIT = 1 << 20
DIFF_FILE = "code/git.diff"
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")


def _git(args, cwd, limit=64 * 1024, git_binary="git"):
    """(ok, stdout bytes up to `limit`, truncated). A missing git binary or a failure is not ok."""
    env = dict(os.environ, GIT_OPTIONAL_LOCKS="0", LC_ALL="C")
    try:
        proc = subprocess.Popen([git_binary] + args, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, env=env)
    except OSError:
        return False, b"", False
    try:
        out = proc.stdout.read(limit + 1)
        truncated = len(out) > limit
        if truncated:
            out = out[:limit]
            proc.kill()
        proc.stdout.close()
        code = proc.wait()
    except OSError:
        return False, b"", False
    return truncated or code == 0, out, truncated


def strip_credentials(url):
    """`https://user:token@host/x.git` -> `https://host/x.git`; an ssh user name (`git@host`) stays."""
    m = re.match(r"^([a-z][a-z0-9+.-]*://)([^/@]*@)(.*)$", url, re.I)
    if not m:
        return url
    scheme = m.group(1).lower()
    if scheme.startswith("http") or scheme.startswith("ftp"):
        return m.group(1) + m.group(3)
    return f'{m.group(1)}{m.group(2)[:-1].split(":")[0]}@{m.group(3)}'


def relative_to(root, path):
    """`path` relative to `root` when inside it (POSIX separators), else absolute."""
    path = os.path.abspath(path)
    if root:
        rel = os.path.relpath(path, root) if os.path.splitdrive(path)[0] == os.path.splitdrive(root)[0] else None
        if rel and rel != "." and not rel.startswith(".."):
            return rel.replace(os.sep, "/")
    return path


def _program():
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None) or (sys.argv[0] if sys.argv and sys.argv[0] not in ("", "-c", "-m") else None)
    return os.path.abspath(path) if path and os.path.exists(path) else None


def capture(program=None, cwd=None, git_binary="git"):
    """(provenance dict for the server, diff bytes or None)."""
    cwd = os.path.abspath(cwd or os.getcwd())
    program = os.path.abspath(os.path.join(cwd, program)) if program else _program()
    where = os.path.dirname(program) if program else cwd

    def git(args, limit=64 * 1024):
        return _git(args, where, limit, git_binary)

    ok, top, _ = git(["rev-parse", "--show-toplevel"])
    commit = ""
    if ok:
        head_ok, head, _ = git(["rev-parse", "--verify", "-q", "HEAD"])
        commit = head.decode("utf-8", "replace").strip() if head_ok else ""
    if not ok or not _SHA.match(commit):
        # Not a git work tree (or git is missing, or the repository has no commit yet).
        return {"program": relative_to(cwd, program) if program else None, "root": cwd, "git": None}, None
    root = top.decode("utf-8", "replace").strip()
    b_ok, branch, _ = git(["symbolic-ref", "--short", "-q", "HEAD"])
    r_ok, remotes, _ = git(["remote"])
    names = [n.strip() for n in remotes.decode("utf-8", "replace").splitlines() if n.strip()] if r_ok else []
    remote = None
    if names:
        name = "origin" if "origin" in names else names[0]
        u_ok, url, _ = git(["remote", "get-url", name])
        remote = strip_credentials(url.decode("utf-8", "replace").strip()) if u_ok else None
    s_ok, status, _ = git(["status", "--porcelain", "-z", "--untracked-files=all"], DIFF_LIMIT)
    changed, untracked = parse_status(status) if s_ok else (False, [])
    dirty = changed or bool(untracked)
    diff, truncated = None, False
    if changed:
        d_ok, out, truncated = git(["diff", "HEAD", "--no-color", "--no-ext-diff"], DIFF_LIMIT)
        diff = out if d_ok and out else None
        truncated = bool(diff) and truncated
    if untracked and not truncated:
        diff, truncated = with_untracked_names(diff or b"", untracked)
    return {
        "program": relative_to(root, program) if program else None,
        "root": root,
        "git": {
            "commit": commit,
            "branch": branch.decode("utf-8", "replace").strip() or None if b_ok else None,
            "remote": remote or None,
            "dirty": dirty,
            "untracked": len(untracked),
            "diffFile": DIFF_FILE if diff else None,
            "diffTruncated": truncated,
        },
    }, diff


def parse_status(out):
    """(tracked files changed, untracked file names) from `git status --porcelain -z`."""
    entries = out.split(b"\0")
    changed, untracked, i = False, [], 0
    while i < len(entries):
        e = entries[i]
        i += 1
        if len(e) < 4:
            continue
        if e[:2] == b"??":
            untracked.append(e[3:].decode("utf-8", "replace"))
            continue
        changed = True
        if e[:1] in (b"R", b"C"):
            i += 1  # a rename or copy is followed by its source path
    return changed, untracked


def with_untracked_names(diff, names):
    """The diff followed by the untracked files' names (never their contents), within DIFF_LIMIT."""
    out = bytearray(diff)
    head = f"# {len(names)} untracked file{'' if len(names) == 1 else 's'} (names only, not in the diff):\n".encode("utf-8")
    if len(out) + len(head) > DIFF_LIMIT:
        return bytes(out), True
    out += head
    for n in names:
        line = f"# ?? {n}\n".encode("utf-8")
        if len(out) + len(line) > DIFF_LIMIT:
            return bytes(out), True
        out += line
    return bytes(out), False


def call_site(root):
    """{file, line} of the first frame outside this package (the user's call), or None."""
    frame = sys._getframe(1)
    while frame is not None:
        path = os.path.abspath(frame.f_code.co_filename)
        if not (path == _PACKAGE_DIR or path.startswith(_PACKAGE_DIR + os.sep)) and not frame.f_code.co_filename.startswith("<"):
            return {"file": relative_to(root, path)[:4096], "line": max(1, frame.f_lineno)}
        frame = frame.f_back
    return None


def for_init():
    """(provenance, diff) for a new run; (None, None) when AMPHORA_DISABLE_GIT / WANDB_DISABLE_GIT is set."""
    for var in ("AMPHORA_DISABLE_GIT", "WANDB_DISABLE_GIT"):
        if os.environ.get(var, "").lower() in ("1", "true", "yes"):
            return None, None
    return capture()


def save_diff(run, diff):
    """Saves the diff of a dirty tree as the run file DIFF_FILE; a failure only warns."""
    import tempfile
    import warnings

    folder = tempfile.mkdtemp(prefix="amphora-diff-")
    path = os.path.join(folder, "git.diff")
    try:
        with open(path, "wb") as f:
            f.write(diff)
        run._save_files([(DIFF_FILE, path)])
    except Exception as e:  # provenance must never stop the run
        warnings.warn(f"amphora: could not save the git diff of run {run.path}: {e}", stacklevel=3)
    finally:
        try:
            os.remove(path)
            os.rmdir(folder)
        except OSError:
            pass


def run_call_site(run):
    """The user's line for a run's log_artifact/use_artifact, or None when the run records no provenance."""
    prov = run._data.get("provenance") if isinstance(run._data, dict) else None
    if not prov:
        return None
    site = call_site(prov.get("root"))
    return site
