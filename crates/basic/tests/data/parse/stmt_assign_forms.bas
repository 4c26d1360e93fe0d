' Every way to assign a value
total = 0
LET count = 1
let name = "Ann"
Let greeting = "Hi " & name
customer = {}
customer.name = name
customer.address.city = "Lisbon"
items = [1, 2, 3]
items[0] = 10
items[count + 1] = items[0] * 2
matrix = [[1, 2], [3, 4]]
matrix[1][0] = 30
order = {"lines": [{"sku": "A1", "qty": 1}]}
order.lines[0].qty = 2
done = total = 0
TALK greeting
