"""Drives the Python client for the probe suite: one operation, one JSON line on stdout.

    python3 py_client.py download REF ROOT      # Api().artifact(REF).download(ROOT)
    python3 py_client.py download-skip-cache REF ROOT   # ... .download(ROOT, skip_cache=True)
    python3 py_client.py download-default REF   # ... .download() into ./artifacts/<name>:<version>
    python3 py_client.py upload FILE            # log FILE as artifact "data" (negotiate, upload, commit)

Connection and cache come from AMPHORA_BASE_URL, AMPHORA_API_KEY and AMPHORA_CACHE_DIR.
"""
import json
import sys

import amphora
from amphora.errors import AmphoraError


def main(argv):
    op = argv[1]
    try:
        if op == "download":
            amphora.Api().artifact(argv[2]).download(argv[3])
        elif op == "download-skip-cache":
            amphora.Api().artifact(argv[2]).download(argv[3], skip_cache=True)
        elif op == "download-default":
            amphora.Api().artifact(argv[2]).download()
        elif op == "upload":
            with amphora.init(project="probe", job_type="probe") as run:
                art = amphora.Artifact("data", type="dataset")
                art.add_file(argv[2])
                run.log_artifact(art)
        else:
            raise SystemExit("unknown operation %r" % op)
    except AmphoraError as e:
        print(json.dumps({"ok": False, "code": e.code, "message": e.message}))
        return 0
    except Exception as e:  # noqa: BLE001 - the probe reports what a user would see
        print(json.dumps({"ok": False, "code": type(e).__name__, "message": str(e)}))
        return 0
    print(json.dumps({"ok": True}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
