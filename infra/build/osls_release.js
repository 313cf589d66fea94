'use strict';

// osls/Serverless v3 plugin: every `osls deploy` of serverless.yml is a guarded release.
//
// `live` is not a stack resource (serverless.yml says why). Once CloudFormation has updated
// the stack (the function's code and configuration: $LATEST, which nothing routes to), this
// plugin runs `slipway release --target aws`, the release engine every other release uses,
// and the deploy succeeds only if the release does:
//
//   model            --param model=NAME@VERSION, or none: the model `live` serves stays
//   guard rails      --param canarySteps / canaryWait / canaryPoll / alarms / maxErrors
//   opt-out          --param release=instant: all at once, no smoke invoke, no canary, no
//                    watch, no automatic rollback (a first deploy, an emergency), said loudly
//
// The release's plan and steps stream to the terminal as they run (slipway's stderr); its
// one-line JSON result (stdout) decides: `released` and `unchanged` pass, anything else fails
// the deploy with slipway's reason (a rollback, a failed smoke invoke, a conflict). With
// SLIPWAY_RELEASE_JSON=FILE the result is also written there (the CI job's summary).
// `osls deploy function -f predict` releases the same way. `provisioned` is set on `live`
// after the release (an alias that is not a stack resource has no stack property for it).
// The optional Flask function (`--param flask=true`) stays outside: its own alias `live` is
// the stack's, and it gets the model predict's `live` serves when the deploy starts.
//
// Which slipway: SLIPWAY_BIN, else the checkout's .venv/bin/slipway, else `slipway` on PATH.
// Where: the deploy's region and profile; AWS_ENDPOINT_URL (an emulator) is passed on, and
// osls's own AWS calls are pointed there too, so the stack and the release meet in one place.
//
// Also, as before: with `--param offline=true` (CI: `osls package` with no AWS account) the
// framework's lookup of the previous stack's layer hash is skipped (a describeStacks call
// that only lets an unchanged layer reuse its upload); the Flask function's alias `live` gets
// its version's hashed logical id; the framework's SnapStart alias and version of predict are
// dropped (Slipway publishes the versions and routes through `live`), and cfn-lint is told
// why predict has SnapStart but no version in the stack.

const { spawn } = require('child_process');
const fs = require('fs');
const path = require('path');

const MODES = ['guarded', 'instant'];
const MODEL = /^[A-Za-z0-9][A-Za-z0-9._-]*@[1-9][0-9]*$/;
const PREDICT = 'predict';
const ALIAS = 'live';
const PASSED = new Set(['released', 'unchanged']);

function pointSdkAtEndpoint() {
  const url = process.env.AWS_ENDPOINT_URL;
  if (!url) return;
  // osls makes its CloudFormation, S3 and Lambda calls with the AWS SDK v2, which does not
  // read AWS_ENDPOINT_URL (boto3, the AWS CLI and so slipway do).
  const sdk = require('aws-sdk');
  sdk.config.update({ endpoint: url, s3ForcePathStyle: true });
}

class SlipwayRelease {
  constructor(serverless, options) {
    this.serverless = serverless;
    this.options = options || {};
    pointSdkAtEndpoint();
    this.hooks = {
      'before:package:compileLayers': () => this.skipLayerLookupOffline(),
      'before:package:compileFunctions': () => this.flaskModel(),
      'before:aws:package:finalize:saveServiceState': () => this.shapeTemplate(),
      // Refuse bad release parameters before the stack changes at all.
      'before:deploy:deploy': () => this.settings(),
      'after:deploy:deploy': () => this.release(),
      'before:deploy:function:initialize': () => this.settings(),
      'after:deploy:function:deploy': () =>
        this.options.function === PREDICT ? this.release() : undefined,
    };
  }

  error(message) {
    return new this.serverless.classes.Error(message, 'SLIPWAY_RELEASE');
  }

  cliParams() {
    const given = (this.serverless.processedInput.options || {}).param || [];
    return [].concat(given).map(String);
  }

  skipLayerLookupOffline() {
    if (!this.cliParams().includes('offline=true')) return;
    for (const plugin of this.serverless.pluginManager.plugins) {
      if (plugin.constructor.name === 'AwsCompileLayers') {
        plugin.compareWithLastLayer = async () => undefined;
      }
    }
  }

  // -- the Flask function --------------------------------------------------------------------
  async flaskModel() {
    // The optional Flask function is not released by slipway: its alias `live` is the
    // stack's, moved by each deploy that changes it. It serves the model predict's `live`
    // serves when the deploy starts (state, read here, so its version's hash covers it).
    const flask = this.serverless.service.functions.flask;
    if (!flask || this.cliParams().includes('offline=true')) return;
    const provider = this.serverless.getProvider('aws');
    const fn = this.serverless.service.getFunction(PREDICT).name;
    let env;
    try {
      const alias = await provider.request('Lambda', 'getAlias', { FunctionName: fn, Name: ALIAS });
      const version = await provider.request('Lambda', 'getFunctionConfiguration', {
        FunctionName: fn,
        Qualifier: alias.FunctionVersion,
      });
      env = (version.Environment || {}).Variables || {};
    } catch (error) {
      if (((error && error.providerError) || {}).statusCode !== 404) throw error;
      throw this.error(
        `--param flask=true: the Flask function serves the model ${fn}'s ${ALIAS} serves, and ` +
          `there is no ${ALIAS} yet. Deploy once without it (naming the model), then with it`
      );
    }
    flask.environment = {
      ...(flask.environment || {}),
      SLIPWAY_MODEL: env.SLIPWAY_MODEL,
      SLIPWAY_MODEL_SHA256: env.SLIPWAY_MODEL_SHA256,
    };
  }

  // -- the template -------------------------------------------------------------------------
  shapeTemplate() {
    const template = this.serverless.service.provider.compiledCloudFormationTemplate;
    const resources = template.Resources;
    const naming = this.serverless.getProvider('aws').naming;
    const predict = naming.getLambdaLogicalId(PREDICT);
    const snapAlias = naming.getLambdaSnapStartEnabledAliasName();
    const dropped = new Set();
    for (const [id, resource] of Object.entries(resources)) {
      const props = resource.Properties || {};
      const ofPredict = JSON.stringify(props.FunctionName) === JSON.stringify({ Ref: predict });
      const snapStartAlias = resource.Type === 'AWS::Lambda::Alias' && props.Name === snapAlias;
      if (snapStartAlias || (ofPredict && resource.Type === 'AWS::Lambda::Version')) {
        dropped.add(id);
      }
    }
    for (const id of dropped) delete resources[id];
    const fn = resources[predict];
    if (fn && fn.Properties && fn.Properties.SnapStart) {
      // cfn-lint's W2530 expects SnapStart's versions in the stack; slipway publishes them.
      fn.Metadata = { ...(fn.Metadata || {}), 'cfn-lint': { config: { ignore_checks: ['W2530'] } } };
    }
    for (const [id, output] of Object.entries(template.Outputs || {})) {
      if (dropped.has((output.Value || {}).Ref)) delete template.Outputs[id];
    }
    this.resolveVersions(resources);
  }

  resolveVersions(resources) {
    // The Flask function's alias names `FlaskLambdaVersion`; the framework adds a hash.
    const versions = Object.keys(resources).filter(
      (id) => resources[id].Type === 'AWS::Lambda::Version'
    );
    for (const [id, resource] of Object.entries(resources)) {
      if (resource.Type !== 'AWS::Lambda::Alias') continue;
      const getAtt = (resource.Properties.FunctionVersion || {})['Fn::GetAtt'];
      if (!getAtt || resources[getAtt[0]]) continue;
      const matches = versions.filter((v) => v.startsWith(getAtt[0]));
      if (matches.length !== 1) {
        throw this.error(
          `${id}: expected one ${getAtt[0]}<hash> version resource, found ` +
            `${matches.length}; is versionFunctions on?`
        );
      }
      getAtt[0] = matches[0];
    }
  }

  // -- the release --------------------------------------------------------------------------
  settings() {
    if (this.cliParams().some((p) => p.startsWith('modelSha256='))) {
      throw this.error(
        '--param modelSha256 is gone: the release reads the sha256 from the model\'s ' +
          'manifest. Name the model with --param model=NAME@VERSION, or name none to keep ' +
          'the model live serves'
      );
    }
    const given = this.serverless.service.custom.release || {};
    const s = {
      model: String(given.model || ''),
      mode: String(given.mode || 'guarded'),
      steps: String(given.steps),
      wait: String(given.wait),
      poll: String(given.poll),
      alarms: String(given.alarms || '').split(',').map((a) => a.trim()).filter(Boolean),
      maxErrors: String(given.maxErrors),
      provisioned: Number(given.provisioned || 0),
    };
    if (!MODES.includes(s.mode)) {
      throw this.error(`--param release=${s.mode.slice(0, 40)}: use guarded or instant`);
    }
    if (s.model && !MODEL.test(s.model)) {
      throw this.error(
        `--param model=${s.model.slice(0, 80)}: give NAME@VERSION (e.g. digits@3), or no ` +
          'model to keep the one live serves'
      );
    }
    if (!Number.isInteger(s.provisioned) || s.provisioned < 0) {
      throw this.error(`--param provisioned=${given.provisioned}: a whole number >= 0`);
    }
    return s;
  }

  argv(s, fn, store) {
    const argv = ['release', '--target', 'aws', '--function', fn, '--alias', ALIAS, '--json'];
    if (store) argv.push('--s3-store', store);
    if (s.model) argv.push('--model', s.model);
    if (s.mode === 'instant') return [...argv, '--steps', '1', '--wait', '0', '--skip-smoke'];
    argv.push('--steps', s.steps, '--wait', s.wait, '--poll', s.poll, '--max-errors', s.maxErrors);
    for (const alarm of s.alarms) argv.push('--alarm', alarm);
    return argv;
  }

  async modelStore(provider) {
    // The stack's model bucket, as its ModelStoreUri output names it (s3://BUCKET/models),
    // read from the resource itself: what CloudFormation reports once the update is done.
    const found = await provider.request('CloudFormation', 'describeStackResources', {
      StackName: provider.naming.getStackName(),
    });
    const bucket = (found.StackResources || [])
      .filter((r) => r && r.LogicalResourceId === 'ModelBucket')
      .map((r) => r.PhysicalResourceId)[0];
    return bucket ? `s3://${bucket}/models` : null;
  }

  slipway() {
    if (process.env.SLIPWAY_BIN) return process.env.SLIPWAY_BIN;
    const venv = path.join(this.serverless.serviceDir, '.venv', 'bin', 'slipway');
    return fs.existsSync(venv) ? venv : 'slipway';
  }

  async release() {
    const s = this.settings();
    const provider = this.serverless.getProvider('aws');
    const fn = this.serverless.service.getFunction(PREDICT).name;
    const store = await this.modelStore(provider);
    const env = { ...process.env, AWS_REGION: provider.getRegion() };
    const profile = provider.getProfile && provider.getProfile();
    if (profile) env.AWS_PROFILE = profile;
    const what = s.model ? `model ${s.model}` : `the model ${ALIAS} serves`;
    if (s.mode === 'instant') {
      const bar = '!'.repeat(78);
      process.stderr.write(
        `${bar}\n!! --param release=instant: UNGUARDED. ${ALIAS} moves to the new version at ` +
          'once:\n!! no smoke invoke, no canary, no watch, no automatic rollback.\n' +
          `${bar}\n`
      );
    }
    process.stderr.write(
      `slipway: releasing ${fn} with ${what} through \`slipway release\` (${s.mode}); ` +
        `${ALIAS} has one owner\n`
    );
    const { code, stdout } = await run(this.slipway(), this.argv(s, fn, store), env);
    let result;
    try {
      result = JSON.parse(stdout.trim().split('\n').pop());
    } catch (_) {
      result = { result: 'error', exit_code: code, error: `slipway printed no result (exit ${code})` };
    }
    if (process.env.SLIPWAY_RELEASE_JSON) {
      fs.writeFileSync(process.env.SLIPWAY_RELEASE_JSON, `${JSON.stringify(result)}\n`);
    }
    if (code !== 0 || !PASSED.has(result.result)) {
      // The stack is deployed either way; slipway's message says where `live` is.
      throw this.error(
        `the release ${result.result === 'rolled_back' ? 'rolled back' : 'failed'} ` +
          `(${result.result}, slipway exit ${code}): ${result.error || 'see above'}`
      );
    }
    await this.provisioned(provider, fn, s.provisioned);
    process.stderr.write(
      result.result === 'unchanged'
        ? `slipway: nothing to release; ${ALIAS} stays on ${result.previous}\n`
        : `slipway: ${ALIAS} -> version ${result.version} (${result.model}), was ` +
            `${result.previous || 'nothing'}\n`
    );
  }

  async provisioned(provider, fn, count) {
    const where = { FunctionName: fn, Qualifier: ALIAS };
    if (count > 0) {
      await provider.request('Lambda', 'putProvisionedConcurrencyConfig', {
        ...where,
        ProvisionedConcurrentExecutions: count,
      });
      return;
    }
    try {
      await provider.request('Lambda', 'deleteProvisionedConcurrencyConfig', where);
    } catch (error) {
      // None configured: Lambda answers 404 (ResourceNotFoundException).
      const status = ((error && error.providerError) || {}).statusCode;
      if (status !== 404) throw error;
    }
  }
}

function run(command, argv, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, { env, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.on('error', (error) =>
      reject(new Error(`could not run ${command} (${error.message}): set SLIPWAY_BIN or make setup`))
    );
    child.on('close', (code) => resolve({ code, stdout }));
  });
}

module.exports = SlipwayRelease;
