# A tool script with every comment marker
' quote comment
REM rem comment
// slashes comment
x = 1 ' trailing quote
y = 2 // trailing slashes
z = 3 REM trailing rem
IF x > 0 THEN ' the opener
  TALK "positive"   ' inside
ELSEIF x < 0 THEN ' second arm
  TALK "negative"
ELSE ' otherwise
  TALK "zero"
END IF ' closed
SELECT CASE x ' subject
  ' before the first case
  CASE 1 ' one
    TALK "one"
  CASE ELSE ' anything
    TALK "other"
END SELECT ' done
FOR i = 1 TO 3 ' count
  ' body comment
NEXT i ' after
'
REM
