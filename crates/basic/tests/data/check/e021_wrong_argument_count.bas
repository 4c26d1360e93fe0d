name = "Ann"
initials = LEFT(name)
piece = MID(name, 1, 2, 3)
stamp = NOW(1)
upper = UPPER()
largest = MAX()
fine = MAX(1, 2, 3, 4) + LEN(name) + ROUND(1.5) + ROUND(1.55, 1)

FUNCTION LEN(a, b)
  RETURN a
END FUNCTION
shadowed = LEN(1, 2)
