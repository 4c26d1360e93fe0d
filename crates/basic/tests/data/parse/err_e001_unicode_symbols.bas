a = 1 × 2
TALK "fine" → next
b = a ≠ 3
TALK b
