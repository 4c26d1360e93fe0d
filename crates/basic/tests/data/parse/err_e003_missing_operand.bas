total = (5 + )
IF total > THEN
  TALK "big"
END IF
x = * 3
y = (1 + 2
z = [1, 2
TALK "recovered"
