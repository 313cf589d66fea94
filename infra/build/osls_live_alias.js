'use strict';

// osls/Serverless v3 plugin: point the alias `live` (declared in serverless.yml `resources:`)
// at the function version this deploy publishes. The framework names that version
// `<Function>LambdaVersion<hash>`, so the template refers to `<Function>LambdaVersion` and
// this plugin fills in the hash once the template is compiled.
//
// With `--param offline=true` (CI: `osls package` with no AWS account), it also skips the
// framework's lookup of the previous stack's layer hash (AwsCompileLayers.compareWithLastLayer,
// a describeStacks call that only lets an unchanged layer reuse its earlier upload); the
// template is then the one a first deploy of the stack would get.
//
// With SnapStart on, the framework adds its own alias `snapstart` for routing events to a published
// version; Slipway's routes use `live`, so that second alias is dropped rather than left to
// drift.

class LiveAliasVersion {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = {
      'before:package:compileLayers': () => this.skipLayerLookupOffline(),
      'before:aws:package:finalize:saveServiceState': () => this.resolveVersions(),
    };
  }

  skipLayerLookupOffline() {
    const cli = (this.serverless.processedInput.options || {}).param || [];
    const offline = [].concat(cli).includes('offline=true');
    if (!offline) return;
    for (const plugin of this.serverless.pluginManager.plugins) {
      if (plugin.constructor.name === 'AwsCompileLayers') {
        plugin.compareWithLastLayer = async () => undefined;
      }
    }
  }

  resolveVersions() {
    const resources =
      this.serverless.service.provider.compiledCloudFormationTemplate.Resources;
    const snapAlias = this.serverless.getProvider('aws').naming.getLambdaSnapStartEnabledAliasName();
    for (const [id, resource] of Object.entries(resources)) {
      if (resource.Type === 'AWS::Lambda::Alias' && resource.Properties.Name === snapAlias) {
        delete resources[id];
      }
    }
    const versions = Object.keys(resources).filter(
      (id) => resources[id].Type === 'AWS::Lambda::Version'
    );
    for (const [id, resource] of Object.entries(resources)) {
      if (resource.Type !== 'AWS::Lambda::Alias') continue;
      const getAtt = resource.Properties.FunctionVersion['Fn::GetAtt'];
      if (!getAtt || resources[getAtt[0]]) continue;
      const matches = versions.filter((v) => v.startsWith(getAtt[0]));
      if (matches.length !== 1) {
        throw new this.serverless.classes.Error(
          `${id}: expected one ${getAtt[0]}<hash> version resource, found ` +
            `${matches.length}; is versionFunctions on?`
        );
      }
      getAtt[0] = matches[0];
    }
  }
}

module.exports = LiveAliasVersion;
