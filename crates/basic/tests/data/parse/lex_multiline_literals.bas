customer = {
  name: "Ann",
  "email": "ann@example.com",
  created_at: NOW(),
  tags: [
    "vip",
    "early"
  ],
  address: {
    city: "Lisbon",
    zip: "1000-001"
  }
}
matrix = [
  [1, 2],
  [3, 4]
]
empty_list = [
]
empty_object = {
}
TALK customer.name & matrix[0][1] & LEN(empty_list) & LEN(KEYS(empty_object))
