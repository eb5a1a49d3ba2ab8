"""Evidence for media sent by WhatsApp: fetch each file once through the Graph API, keep its bytes
in the object store and its SHA-256 and size on the report, so a hash in a case is one Pantau
computed, not only one the provider claimed (the evidence worker then lists, stamps and logs it)."""

import hashlib

from pantau_shared.bus import RetryLater
from pantau_shared.contract import Attachment
from pantau_shared.objectstore import ObjectStore
from pantau_shared.providers import PermanentFailure, TransientFailure
from pantau_shared.whatsapp import WhatsAppClient


class MediaEvidence:
    def __init__(self, client: WhatsAppClient | None, store: ObjectStore | None = None) -> None:
        self._client = client
        self._store = store

    async def hashed(self, attachments: tuple[Attachment, ...]) -> tuple[Attachment, ...]:
        if self._client is None:
            return attachments
        result = []
        for attachment in attachments:
            if attachment.media_id is None:
                result.append(attachment)
                continue
            try:
                info, data = await self._client.get_media(attachment.media_id)
            except TransientFailure as error:
                raise RetryLater(f"media {attachment.media_id}: {error}") from error
            except PermanentFailure:
                # Expired or refused: the report keeps what the webhook said about the file.
                result.append(attachment)
                continue
            mime_type = info.mime_type or attachment.mime_type
            if self._store is not None:
                await self._store.put(data, mime_type or "application/octet-stream")
            result.append(
                attachment.model_copy(
                    update={
                        "sha256": hashlib.sha256(data).hexdigest(),
                        "size": len(data),
                        "mime_type": mime_type,
                    }
                )
            )
        return tuple(result)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
