HEAR score AS INTEGER
SELECT CASE score
  CASE 0
    TALK "zero"
  CASE 1, 2, 3
    TALK "low"
  CASE 4 TO 6, 8
    TALK "middle"
  CASE IS > 9
    TALK "top"
  CASE IS <= -1
    TALK "negative"
  CASE ELSE
    TALK "seven or nine"
END SELECT

HEAR color
SELECT color
  CASE "red", "green":
    TALK "a traffic light color"
  CASE "blue"
    TALK "the sky"
END SELECT
