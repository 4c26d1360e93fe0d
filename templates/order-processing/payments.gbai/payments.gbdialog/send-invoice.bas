' Tool "send invoice": invoices the order instead of charging a card.
DESCRIPTION "Sends an invoice for an order"
PARAM order_id AS STRING LIKE "ORD-7" DESCRIPTION "The order"
PARAM amount AS NUMBER LIKE "80" DESCRIPTION "The amount to invoice"

RETURN {"payment_status": "invoiced", "payment_ref": "INV-" & (order_id ?? "unknown")}
