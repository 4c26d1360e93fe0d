' SUB, FUNCTION, CALL, RETURN, recursion and scopes.
base = 100
CALL greet("Ann")
greet("Bob")
greet "Cy"
x = square(7) + square(2)
f = fact(5)
r = addbase(5)
label_value = classic(3)
RETURN {"x": x, "f": f, "r": r, "classic": label_value, "base": base, "temp": temp}

SUB greet(who)
  TALK "Hello, " & who
  greeted = who
END SUB

FUNCTION square(n)
  RETURN n * n
END FUNCTION

FUNCTION fact(n)
  IF n <= 1 THEN RETURN 1
  RETURN n * fact(n - 1)
END FUNCTION

FUNCTION addbase(n)
  temp = n + base
  base = base + 1
  RETURN temp
END FUNCTION

FUNCTION classic(n)
  classic = n * 3
END FUNCTION
