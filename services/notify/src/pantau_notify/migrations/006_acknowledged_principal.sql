-- Who acknowledged, beside the name they typed: the API key (`key:<id>`), the signed link in the
-- alert (`link`) or the WhatsApp button (`whatsapp`), as the gateway names the sender.
ALTER TABLE deliveries ADD COLUMN acknowledged_principal text;
