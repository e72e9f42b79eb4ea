-- A cycle interrupted by a crash and not resumed within one interval (the loop only resumes the
-- cycle that is still due) is closed as `abandoned` by the next process that holds the loop's
-- lock, instead of staying `running` for ever (app/loops/cycles.py abandon_stale).
alter table loop_cycles drop constraint loop_cycles_status_check;
alter table loop_cycles add constraint loop_cycles_status_check
    check (status in ('running', 'done', 'failed', 'abandoned'));
