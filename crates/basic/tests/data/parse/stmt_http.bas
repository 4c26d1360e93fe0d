SET HEADER "Authorization", "Bearer " & token
SET HEADER "Accept", "application/json"
orders = GET "https://api.example.com/orders?status=open"
readme = GET "files/readme.md"
created = POST "https://api.example.com/orders", {"sku": "A1", "qty": 1}
POST "https://api.example.com/log", {"event": "created"}
PUT "https://api.example.com/orders/1", {"qty": 2}
PATCH "https://api.example.com/orders/1", {"status": "paid"}
DELETE HTTP "https://api.example.com/orders/1"
removed = DELETE HTTP "https://api.example.com/orders/2"
CLEAR HEADERS
TALK orders & readme & created & removed
