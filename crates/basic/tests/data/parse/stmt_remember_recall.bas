REMEMBER "color", "blue"
REMEMBER "cart", ["tea"], "30 minutes"
remember "last_seen", NOW(), "7 days"
color = RECALL "color"
cart = RECALL("cart")
TALK "You like " & color & " and have " & LEN(cart) & " items"
