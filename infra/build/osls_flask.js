'use strict';

// The optional Flask function (functions/flask_api through serverless-wsgi), off by default.
// serverless.yml lists `${file(./infra/build/osls_flask.js):functions}` among its functions and
// `...:resources` among its resources (osls/Serverless v3 merge list items of both); this
// returns `custom.flask.functions` / `custom.flask.resources` with `--param flask=true` and
// empty maps otherwise, so with it off the template is exactly the predict-only one.

module.exports = async ({ resolveVariable }) => {
  const value = String(await resolveVariable('param:flask'));
  if (value === 'false') return { functions: {}, resources: {} };
  if (value !== 'true') {
    throw new Error(`--param flask=${value}: use true or false (default false)`);
  }
  return {
    functions: await resolveVariable('self:custom.flask.functions'),
    resources: await resolveVariable('self:custom.flask.resources'),
  };
};
