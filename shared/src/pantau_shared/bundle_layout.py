"""Where things are in an evidence bundle zip, shared by the builder and the verifier."""

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
SIGNER = "signer.pem"
ROOTS = "tsa-roots.pem"
CUSTODY = "custody.jsonl"
EVIDENCE_DIR = "evidence/"
TIMESTAMPS_DIR = "timestamps/"
CHAINS_DIR = "custody/"  # further custody chains (one per report of the case), by name

# The zip comment: this prefix, then 128 lower-case hex digits of an Ed25519 signature over
# SEAL_DOMAIN followed by the SHA-512 (64 raw bytes) of every byte of the zip before the comment.
SEAL_DOMAIN = b"pantau-evidence-bundle-seal-v1\n"
SEAL_PREFIX = b"pantau-seal ed25519 "
SEAL_LENGTH = len(SEAL_PREFIX) + 128
