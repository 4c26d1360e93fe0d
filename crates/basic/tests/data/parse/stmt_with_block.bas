WITH customer
  name = "Ann"
  .email = "ann@example.com"
  age = 30 ' years
  .address = {"city": "Lisbon"}
END WITH
with order
  total = 99.90
end with
TALK customer.name & " " & order.total
