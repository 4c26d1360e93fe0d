on error goto handler
call greet("Ann", 3)
CALL "helpers.bas"
total = add_up(1, 2)
goto finish
handler:
  TALK "error: " & ERROR.message
  ON ERROR RESUME NEXT
finish:
ON ERROR GOTO 0
return total

sub greet(who, times)
  for i = 1 to times
    talk "Hi " & who
  next i
end sub

function add_up(a, b)
  return a + b
end function

SUB nothing()
END SUB
