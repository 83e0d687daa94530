{#- NPS per month and segment (and 'all'): responses, promoters (9-10), passives (7-8), detractors (0-6),
    NPS = % promoters - % detractors, the NPS of champions against the other respondents, and how many detractor
    comments wait for follow-up (listed in nps_detractor_followups). -#}
with

responses as (

    select * from {{ ref('int_surveys__responses') }}

),

by_segment as (

    select
        month,
        segment,
        response_id,
        nps_category,
        is_champion,
        comment
    from responses
    union all
    select
        month,
        'all' as segment,
        response_id,
        nps_category,
        is_champion,
        comment
    from responses

),

counts as (

    select
        month,
        segment,
        count(*) as responses,
        sum(case when nps_category = 'promoter' then 1 else 0 end) as promoters,
        sum(case when nps_category = 'passive' then 1 else 0 end) as passives,
        sum(case when nps_category = 'detractor' then 1 else 0 end) as detractors,
        sum(case when is_champion then 1 else 0 end) as champion_responses,
        sum(case when is_champion and nps_category = 'promoter' then 1 else 0 end) as champion_promoters,
        sum(case when is_champion and nps_category = 'detractor' then 1 else 0 end) as champion_detractors,
        sum(case when nps_category = 'detractor' and comment is not null then 1 else 0 end) as detractor_comments
    from by_segment
    group by month, segment

),

final as (

    select
        month,
        segment,
        cast(responses as integer) as responses,
        cast(promoters as integer) as promoters,
        cast(passives as integer) as passives,
        cast(detractors as integer) as detractors,
        100.0 * (promoters - detractors) / cast(responses as {{ type_double() }}) as nps,
        cast(champion_responses as integer) as champion_responses,
        100.0 * (champion_promoters - champion_detractors) / cast(nullif(champion_responses, 0) as {{ type_double() }})
            as champion_nps,
        cast(responses - champion_responses as integer) as other_responses,
        100.0 * ((promoters - champion_promoters) - (detractors - champion_detractors))
        / cast(nullif(responses - champion_responses, 0) as {{ type_double() }}) as other_nps,
        cast(detractor_comments as integer) as detractor_comments

    from counts

)

select * from final
