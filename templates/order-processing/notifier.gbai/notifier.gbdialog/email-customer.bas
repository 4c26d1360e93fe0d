' Tool "email customer": tells the customer the order is on its way (printed here).
DESCRIPTION "Tells the customer about their order"
PARAM order_id AS STRING LIKE "ORD-7" DESCRIPTION "The order"

PRINT "order " & (order_id ?? "unknown") & " confirmed to the customer"
RETURN {"customer_notified": TRUE}
