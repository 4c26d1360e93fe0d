name = "Ann"
items = ["tea", "cake"]
TALK "Hello!"
TALK "Hello, " & name
TALK "You ordered ${LEN(items)} items, first ${items[0]}"
TALK TO "+5511999990000", "Your order shipped"
TALK TO name, "A direct note for ${name}"
BEGIN TALK
  Dear ${name},
  your order of ${JOIN(items, ", ")} is ready.
  It's on its way!
END TALK
