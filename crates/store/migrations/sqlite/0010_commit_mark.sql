-- botflow store, schema version 10 (sqlite): a group commit's mark on the runs it wrote.
-- A group commit of plain points is one multi-statement query: it inserts or
-- fences the run rows, then writes the step, event and journal rows of only
-- those runs whose row it wrote. Each such commit stamps the rows it writes
-- with a fresh random mark, and the row statements join on it; that is how a
-- fenced point's rows are left out without a round trip to look at the
-- fence's result. A mark means nothing once its transaction has ended.
ALTER TABLE runs ADD COLUMN commit_mark INTEGER;

UPDATE meta SET value = '10' WHERE key = 'schema_version';
