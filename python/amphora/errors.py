"""The one error type every surface speaks (mirrors src/core/errors.ts).

`code` is stable and machine-readable (the `error.code` of the HTTP error body); the message
says what was wrong and what to do about it.
"""

STATUS = {
    "invalid_name": 400,
    "invalid_type": 400,
    "invalid_alias": 400,
    "invalid_reference": 400,
    "invalid_path": 400,
    "invalid_manifest": 400,
    "invalid_request": 400,
    "type_mismatch": 409,
    "not_found": 404,
    "conflict": 409,
    "aliased_version": 409,
    "digest_mismatch": 422,
    "missing_blobs": 409,
    "unauthorized": 401,
    "forbidden": 403,
    "payload_too_large": 413,
    "unsupported": 400,
    "server_unreachable": 503,
    "reference_changed": 409,
    "internal": 500,
}


class AmphoraError(Exception):
    def __init__(self, code, message, details=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    @property
    def status(self):
        return STATUS.get(self.code, 500)

    def __str__(self):
        return self.message

    def __repr__(self):
        return "AmphoraError(%r, %r)" % (self.code, self.message)
