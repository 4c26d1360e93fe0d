' Tool "process refund": refunds an order and remembers the last refund.
DESCRIPTION "Refunds an order"
PARAM order_id AS STRING LIKE "ORD-1001" DESCRIPTION "The order to refund"
PARAM order_amount AS NUMBER LIKE "149.90" DESCRIPTION "The amount to refund"

' Derived from the order, so asking twice for the same order gives the same refund.
refund_id = "RF-" & (order_id ?? "unknown")
SET BOT MEMORY "last_refund", {"refund_id": refund_id, "order_id": order_id, "amount": order_amount}
SET BOT MEMORY "resolution_method", "refund"

RETURN {"refund_id": refund_id, "status": "refunded", "resolution_method": "refund"}
