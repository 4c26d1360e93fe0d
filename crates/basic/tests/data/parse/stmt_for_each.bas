orders = [{"id": 1, "total": 20}, {"id": 2, "total": 35}]
sum = 0
FOR EACH order IN orders
  sum = sum + order.total
  FOR EACH tag IN ["a", "b"]
    PRINT order.id & tag
  NEXT
NEXT order
for each v in {"a": 1, "b": 2}
  print v
next v
TALK "Total: " & sum
