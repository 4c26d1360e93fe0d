' Tool "book shipment": books the carrier for the order.
DESCRIPTION "Books a shipment for an order"
PARAM order_id AS STRING LIKE "ORD-7" DESCRIPTION "The order"
PARAM country AS STRING LIKE "PT" DESCRIPTION "The shipping country"

RETURN {"tracking_id": "TRK-" & UPPER(country ?? "xx") & "-" & (order_id ?? "unknown")}
