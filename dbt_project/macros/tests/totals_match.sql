{#
  Generic test (守恒 / conservation between layers): the model's total of `measure` per `group_by` equals the
  total of `to_measure` per `to_group_by` in `to`. Each failing row is a group whose totals differ, with both.
  only_model_groups: compare the model's groups only (a yearly mart starts at the first delivered month,
  warehouse.md, so earlier tax years are in the facts and in no mart). tolerance: an SQL expression over
  `n_rows`, the model's rows in the group (rows rounded one by one add up to within half a unit each).
  window: a month column; both sides are then compared over the run's tax months only (macro tax_window).
#}
{% test totals_match(model, group_by, measure, to, to_group_by=none, to_measure=none, tolerance='0', only_model_groups=false, window=none) %}
with ours as (
    select {{ group_by }} as grp, {{ measure }} as total, count(*) as n_rows
    from {{ model }}
    {% if window %}where {{ tax_window(window) }}{% endif %}
    group by 1
),

theirs as (
    select {{ to_group_by or group_by }} as grp, {{ to_measure or measure }} as total
    from {{ to }}
    {% if window %}where {{ tax_window(window) }}{% endif %}
    group by 1
)

select
    coalesce(ours.grp, theirs.grp) as grp,
    coalesce(ours.total, 0) as model_total,
    coalesce(theirs.total, 0) as compared_total
from ours
{{ 'left' if only_model_groups else 'full' }} join theirs on theirs.grp = ours.grp
where abs(coalesce(ours.total, 0) - coalesce(theirs.total, 0)) > {{ tolerance }}
{% endtest %}
