CALL greet("Ann")
greet("Bob")
total = add_tax(100, 0.2)
TALK "Total with tax: " & total
CALL log_it
RETURN total

SUB greet(who)
  TALK "Hello, " & who
  EXIT SUB
END SUB

SUB log_it()
  PRINT "logged"
END SUB

FUNCTION add_tax(amount AS NUMBER, rate)
  IF rate < 0 THEN
    RETURN amount
  END IF
  RETURN amount * (1 + rate)
END FUNCTION
