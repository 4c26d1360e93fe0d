' Tool "charge card": charges the order's card (simulated, idempotent by order).
DESCRIPTION "Charges the card of an order"
PARAM order_id AS STRING LIKE "ORD-7" DESCRIPTION "The order"
PARAM amount AS NUMBER LIKE "80" DESCRIPTION "The amount to charge"

RETURN {"payment_status": "charged", "payment_ref": "CH-" & (order_id ?? "unknown")}
