with customer
name = "Ann"
  age = 30 ' years
end with
IF ready THEN TALK "go" ELSE TALK "wait"
if x > 1 then y = 2
IF a THEN CALL run_it(1) ' inline with comment
obj.field = 3
list[0] = "first"
counter = counter + 1
