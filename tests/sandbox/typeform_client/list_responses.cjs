// Reads the sandbox's Typeform form and responses with Typeform's official client, the way a user would, and
// prints what it saw as JSON for the pytest that runs it (tests/sandbox/test_server_typeform.py).
// Usage: node list_responses.cjs BASE_URL TOKEN FORM_ID
const { createClient } = require('@typeform/api-client')

async function main() {
  const [baseUrl, token, formId] = process.argv.slice(2)
  const typeform = createClient({ token, apiBaseUrl: baseUrl })
  const form = await typeform.forms.get({ uid: formId })

  // 1. The client's own auto-paging (page_size 1000, then `before` = last response id).
  const auto = await typeform.responses.list({ uid: formId, page: 'auto' })

  // 2. Manual pages of 100, newest first, continued with `before`.
  const before = []
  let beforeToken = undefined
  for (;;) {
    const page = await typeform.responses.list({ uid: formId, pageSize: 100, before: beforeToken })
    before.push(...page.items.map((item) => item.response_id))
    if (page.items.length < 100) break
    beforeToken = page.items[page.items.length - 1].token
  }

  // 3. A full traversal oldest first: the first page sorted ascending, then `after` the last token seen
  //    (results after a token come in processing order, so nothing repeats).
  const after = []
  let cursor = undefined
  for (;;) {
    const args = cursor ? { after: cursor } : { sort: 'submitted_at,asc' }
    const page = await typeform.responses.list({ uid: formId, pageSize: 100, ...args })
    if (page.items.length === 0) break
    after.push(...page.items.map((item) => item.token))
    cursor = page.items[page.items.length - 1].token
  }

  // 4. `since`: only what was submitted since a moment.
  const since = await typeform.responses.list({ uid: formId, pageSize: 1000, since: '2026-08-01T00:00:00Z' })

  // 5. What a wrong token gets.
  let authError = null
  try {
    await createClient({ token: 'tfp_wrong', apiBaseUrl: baseUrl }).responses.list({ uid: formId })
  } catch (error) {
    authError = { code: error.code, message: error.message }
  }

  const first = auto.items[0]
  console.log(JSON.stringify({
    form: { id: form.id, hidden: form.hidden, fields: form.fields.map((f) => ({ id: f.id, ref: f.ref, type: f.type })) },
    auto: { total_items: auto.total_items, ids: auto.items.map((item) => item.response_id) },
    first,
    before,
    after,
    since: { total_items: since.total_items, submitted: since.items.map((item) => item.submitted_at) },
    authError,
  }))
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
