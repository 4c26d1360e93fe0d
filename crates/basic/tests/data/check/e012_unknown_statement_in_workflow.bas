ORCHESTRATE WORKFLOW "w"
  rows = FIND "customers.xlsx", "name=Ann"
  SAVE "orders.xlsx", rows
  IF LEN(rows) > 0 THEN
    CREATE_SITE "mysite", "template", "prompt"
  END IF
END WORKFLOW
