"""Documents that leave Pantau as files rather than bus messages, by format name.

Each has a JSON Schema in docs/contract/schemas/files/ and a golden example in
examples/files/, tested like the events: another organisation's tool reads them.
"""

from pydantic import BaseModel

from .evidence_bundle import BUNDLE_FORMAT, BundleManifest

FILE_FORMATS: dict[str, type[BaseModel]] = {BUNDLE_FORMAT: BundleManifest}
