message = "Hello, " & _
  "world"
total = 1 + _
  2 + _
  3
items = LEN("a") +
  LEN("bc")
joined = "a" &
  "b"
ok = total > 1 AND
  total < 10
either = total = 6 OR
  total = 7
result = MAX(1,
  2,
  3)
list = [
  "a",
  "b"
]
SEND MAIL "a@b.com", "Subject",
  "Body"
TALK message & items & joined & ok & either & result & list
