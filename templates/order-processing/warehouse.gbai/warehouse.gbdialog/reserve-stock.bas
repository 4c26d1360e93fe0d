' Tool "reserve stock": reserves the order's items.
DESCRIPTION "Reserves stock for an order"
PARAM order_id AS STRING LIKE "ORD-7" DESCRIPTION "The order"

RETURN {"reservation_id": "RS-" & (order_id ?? "unknown")}
