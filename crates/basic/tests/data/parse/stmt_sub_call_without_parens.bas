' A SUB called the VB way: no CALL, no parentheses. It is a call, not an
' unknown keyword.
greet "Bob"
greet "Ann", 2

SUB greet(who, Optional)
  TALK "Hello, " & who
END SUB
