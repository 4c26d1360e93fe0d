customer = {"email": "ann@example.com", "name": "Ann"}
SEND MAIL customer.email, "Your order", "Hello " & customer.name & ",\nyour order shipped."
SEND MAIL "ops@example.com", _
  "Daily report", _
  "All systems normal"
